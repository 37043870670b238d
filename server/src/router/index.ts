/**
 * The command router: admission, local execution and forwarding to the owner, in one place
 * that the WebSocket gateway, the Second Life API and forwarded peer commands all call.
 */
export { CommandRouter, FORWARD_HOPS_MAX, type Forwarder, type Origin, type RouterDeps } from './command-router.ts';
export { InFlightCommands, type Admission } from './admission.ts';
export { forwardFailure, parseForward } from './forward-wire.ts';
