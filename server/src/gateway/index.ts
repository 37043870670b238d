export { UwsGateway, type GatewayOptions } from './uws-transport.ts';
export { ClientSession, type ConnectionPort, type SessionDeps } from './session.ts';
export { HttpRouter, json, errorResult, parseJsonBody, isLoopbackAddress, type HttpRequestInfo, type HttpResult, type HttpRoute } from './http-api.ts';
export { parseClientMessage } from './client-messages.ts';
export { TokenBucket } from './token-bucket.ts';
