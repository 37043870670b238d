export { UwsGateway, type GatewayOptions } from './uws-transport.ts';
export { ClientSession, type ConnectionPort, type SessionDeps } from './session.ts';
export { parseClientMessage } from './client-messages.ts';
export { TokenBucket } from './token-bucket.ts';
export { HostDirectory, chooseHost, isOverloaded, parseClientSideInfo, parsePlayerQuery, type ClientSideInfo, type HostSuggestion, type NodeLoad } from './host-directory.ts';
