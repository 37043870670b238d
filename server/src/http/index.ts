/**
 * HTTP helpers shared by every layer that serves endpoints (the gateway's transport, the
 * operator endpoints in observability/, the Second Life API): request and result types, the
 * router, JSON bodies and error results with stable codes.
 */
export { HttpRouter, json, errorResult, parseJsonBody, isLoopbackAddress, type HttpRequestInfo, type HttpResult, type HttpRoute } from './http-api.ts';
