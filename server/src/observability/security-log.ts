/**
 * Security events as structured pino warnings, bounded so that a flood cannot fill the disk.
 *
 * Every refusal an attacker can provoke (a bad token, a malformed or oversize frame, a flood, a
 * refused admin request or Second Life signature) is worth one log line, but an attacker can
 * provoke millions. So each kind gets at most `linesPerWindowMax` lines per `windowMs`; the
 * rest of that window is counted, and when the window ends one summary line reports how many
 * were suppressed. Memory is one small record per kind (the kinds are a closed list).
 *
 * Record layout (besides pino's level, time, nodeId):
 *   event line:   {security: <kind>, code, reason, remoteAddress?, player?, object?, ...detail}  msg "security event"
 *   summary line: {security: <kind>, suppressed, windowMs}                              msg "security events suppressed"
 * docs/security.md lists the kinds ("What attacks look like in the logs"). Every line says why
 * (`reason`, a stable word such as KEY_UNKNOWN or HELLO_MALFORMED), never with the
 * token, signature or frame itself.
 */
import type { Logger } from 'pino';

/** The kinds of security event, one per control an attacker can trip. */
export const SecurityKinds = {
  auth_failed: 'A WebSocket HELLO or a Second Life provisioning or renewal request carried a bad, expired or foreign player token; `reason` says which check failed (auth/player-tokens.ts TokenRefusalReasons).',
  handshake_failed: 'A WebSocket HELLO was malformed (`reason` HELLO_MALFORMED: an empty, oversize or non-string token, a missing version) or asked for another protocol version (PROTOCOL_UNSUPPORTED); closed 4001.',
  protocol_close: 'A connection sent `limits.invalidFramesBeforeClose` malformed frames in a row and was closed (4002).',
  flood_close: 'A connection kept sending after `limits.rateViolationsBeforeClose` rate-limited messages and was closed (4008).',
  rate_limited: 'A connection (or a Second Life object) sent more messages per second than allowed; each refusal is one event.',
  oversize: 'A WebSocket frame larger than `limits.frameBytesMax` (`code` FRAME_TOO_LARGE; closed with 1009 above 4x), or an HTTP body larger than `limits.httpBodyBytesMax` (BODY_TOO_LARGE).',
  connections_per_ip: 'An address already holding `limits.connectionsPerIpMax` connections tried to open another (HTTP 429).',
  handshakes_in_flight: 'An upgrade arrived while `limits.handshakesInFlightMax` connections had not completed HELLO yet (HTTP 503 OVERLOADED).',
  slow_consumer: 'A client stopped reading until its outgoing buffer passed `limits.outgoingBufferBytesMax` (closed with 4009).',
  admin_refused: 'A request for /v1/admin/* or /dashboard came without a valid admin token, or from a remote address without one.',
  second_life_refused: 'A Second Life request was unsigned, badly signed, stale, replayed, or from a revoked object or one whose credential expired.',
  peer_refused: 'A connection to the peer port closed before the private-network and Noise handshake completed (`reason` CLUSTER_KEY_WRONG: a wrong or missing cluster key, or not a ringstate peer). Logged by peer/ under its own rate limit (peer/warn-limiter.ts), without `code` (the connection is dropped, no answer is sent).',
} as const;

export type SecurityKind = keyof typeof SecurityKinds;

export interface SecurityEvent {
  readonly kind: SecurityKind;
  /** The stable error code the client was given (docs/errors.md). */
  readonly code: string;
  /** Why, as a stable word (KEY_UNKNOWN, EXPIRED, HELLO_MALFORMED, token-missing, ...); never the token or frame itself. */
  readonly reason: string;
  readonly remoteAddress?: string | undefined;
  readonly player?: string | undefined;
  /** A Second Life object id, as claimed (truncated) or verified. */
  readonly object?: string | undefined;
  /** Small kind-specific fields (path, reason, bytes); never secrets. */
  readonly detail?: Readonly<Record<string, string | number | boolean>>;
}

export interface SecurityLogOptions {
  /** Lines logged per kind and window; the rest are counted. */
  readonly linesPerWindowMax?: number;
  readonly windowMs?: number;
  readonly nowMs?: () => number;
}

interface KindWindow {
  startedMs: number;
  logged: number;
  suppressed: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const FIELD_CHARS_MAX = 128;

export class SecurityLog {
  readonly linesPerWindowMax: number;
  readonly windowMs: number;
  private readonly nowMs: () => number;
  private readonly windows = new Map<SecurityKind, KindWindow>();
  private stopped = false;

  constructor(
    private readonly logger: Logger,
    options: SecurityLogOptions = {},
  ) {
    this.linesPerWindowMax = options.linesPerWindowMax ?? 10;
    this.windowMs = options.windowMs ?? 10_000;
    this.nowMs = options.nowMs ?? Date.now;
  }

  record(event: SecurityEvent): void {
    const nowMs = this.nowMs();
    let window = this.windows.get(event.kind);
    if (window !== undefined && nowMs - window.startedMs >= this.windowMs) {
      this.summarize(event.kind, window);
      window = undefined;
    }
    if (window === undefined) {
      window = { startedMs: nowMs, logged: 0, suppressed: 0, timer: undefined };
      this.windows.set(event.kind, window);
    }
    if (window.logged < this.linesPerWindowMax) {
      window.logged += 1;
      this.logger.warn(fields(event), 'security event');
      return;
    }
    window.suppressed += 1;
    // The summary must appear even when the flood stops; a timer per kind, only while suppressing.
    if (window.timer === undefined && !this.stopped) {
      const kind = event.kind;
      const current = window;
      window.timer = setTimeout(() => {
        if (this.windows.get(kind) === current) this.summarize(kind, current);
      }, Math.max(0, current.startedMs + this.windowMs - nowMs));
      window.timer.unref?.();
    }
  }

  /** Writes the pending summaries and cancels their timers (node stop). */
  stop(): void {
    this.stopped = true;
    for (const [kind, window] of [...this.windows]) this.summarize(kind, window);
  }

  private summarize(kind: SecurityKind, window: KindWindow): void {
    if (window.timer !== undefined) clearTimeout(window.timer);
    this.windows.delete(kind);
    if (window.suppressed > 0) this.logger.warn({ security: kind, suppressed: window.suppressed, windowMs: this.windowMs }, 'security events suppressed');
  }
}

function fields(event: SecurityEvent): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = { security: event.kind, code: event.code, reason: clip(event.reason) };
  if (event.remoteAddress !== undefined) out['remoteAddress'] = event.remoteAddress;
  if (event.player !== undefined && event.player !== '') out['player'] = clip(event.player);
  if (event.object !== undefined) out['object'] = clip(event.object);
  for (const [name, value] of Object.entries(event.detail ?? {})) if (!(name in out)) out[name] = typeof value === 'string' ? clip(value) : value;
  return out;
}

/** Attacker-chosen strings are cut so one line stays small. */
function clip(text: string): string {
  return text.length > FIELD_CHARS_MAX ? `${text.slice(0, FIELD_CHARS_MAX)}…` : text;
}
