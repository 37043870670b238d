/**
 * A cluster member, composed: the peer network (peer/), the ring membership (membership/), the
 * replicated partition log (replicated-log/), the founding decision, and command forwarding to
 * partition owners (the router's Forwarder).
 */
export { ClusterServices, CLUSTER_INFO_PROTOCOL, leaveSettled, type ClusterHooks } from './cluster-services.ts';
