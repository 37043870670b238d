/** Per-second series of the run, for the live line and the HTML charts. */
import hdr, { type Histogram } from 'hdr-histogram-js';

export interface SecondSample {
  readonly second: number;
  readonly acked: number;
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly online: number;
  readonly reconnects: number;
}

export interface ChaosEvent {
  readonly second: number;
  readonly kind: 'kill' | 'restart' | 'pause' | 'resume' | 'partition' | 'heal' | 'join' | 'leave';
  readonly node: string;
}

export function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 300_000_000, numberOfSignificantValueDigits: 3 });
}

export class Timeline {
  readonly seconds: SecondSample[] = [];
  readonly chaos: ChaosEvent[] = [];
  private current = newHistogram();
  private acked = 0;
  private errors = 0;
  private reconnects = 0;

  recordAck(latencyMs: number): void {
    this.acked += 1;
    this.current.recordValue(Math.max(1, Math.round(latencyMs * 1000)));
  }

  recordError(): void {
    this.errors += 1;
  }

  recordReconnect(): void {
    this.reconnects += 1;
  }

  /** Closes the current second; `latency` is that second's histogram (µs), no longer written to. */
  tick(second: number, online: number): { readonly sample: SecondSample; readonly latency: Histogram } {
    const sample: SecondSample = {
      second,
      acked: this.acked,
      errors: this.errors,
      p50Ms: this.acked === 0 ? 0 : this.current.getValueAtPercentile(50) / 1000,
      p99Ms: this.acked === 0 ? 0 : this.current.getValueAtPercentile(99) / 1000,
      online,
      reconnects: this.reconnects,
    };
    this.seconds.push(sample);
    const latency = this.current;
    this.current = newHistogram();
    this.acked = 0;
    this.errors = 0;
    this.reconnects = 0;
    return { sample, latency };
  }
}
