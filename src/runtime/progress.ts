import ora, { type Ora } from 'ora';
import type { Logger } from './logging.js';

/** Receives progress of long work; src/ functions take one of these and never print themselves. */
export interface ProgressSink {
  advance(count?: number, detail?: string): void;
}

export interface ProgressOptions {
  logger: Logger;
  label: string;
  total: number;
  /** Spinner on a terminal; otherwise throttled JSON/pretty log lines. */
  interactive: boolean;
  /** Minimum seconds between log lines when not interactive. */
  logEverySeconds?: number;
}

/** A count with rate and ETA, shown by ora on a terminal and as log lines in batch jobs. */
export class Progress implements ProgressSink {
  private done = 0;
  private readonly started = Date.now();
  private lastLogged = 0;
  private readonly spinner: Ora | undefined;

  constructor(private readonly options: ProgressOptions) {
    // discardStdin would put a terminal in raw mode, turning Ctrl-C into a byte instead of SIGINT
    this.spinner = options.interactive
      ? ora({ text: this.text(), stream: process.stderr, discardStdin: false }).start()
      : undefined;
  }

  advance(count = 1, detail?: string): void {
    this.done += count;
    if (this.spinner) {
      this.spinner.text = this.text(detail);
      return;
    }
    const now = Date.now();
    const every = (this.options.logEverySeconds ?? 5) * 1000;
    if (this.done >= this.options.total || now - this.lastLogged >= every) {
      this.lastLogged = now;
      this.options.logger.info(
        {
          progress: this.options.label,
          done: this.done,
          total: this.options.total,
          rate: this.rate(),
          eta_s: this.eta(),
        },
        this.text(detail),
      );
    }
  }

  succeed(message?: string): void {
    if (this.spinner) this.spinner.succeed(message ?? this.text());
    else
      this.options.logger.info(
        { progress: this.options.label, done: this.done, total: this.options.total },
        message ?? this.text(),
      );
  }

  /** Stops a spinner still running (a command that failed or was interrupted), leaving its last line. */
  stop(): void {
    if (this.spinner?.isSpinning) this.spinner.stopAndPersist();
  }

  private rate(): number {
    const seconds = (Date.now() - this.started) / 1000;
    return seconds > 0 ? Math.round((this.done / seconds) * 100) / 100 : 0;
  }

  /** Items per second, or for slow items (registrations, long steps) the seconds each takes. */
  private pace(): string {
    const seconds = (Date.now() - this.started) / 1000;
    return this.done >= seconds ? `${this.rate()}/s` : `${(seconds / this.done).toFixed(1)} s each`;
  }

  private eta(): number | null {
    const rate = this.rate();
    return rate > 0 ? Math.round((this.options.total - this.done) / rate) : null;
  }

  private text(detail?: string): string {
    const eta = this.eta();
    const parts = [`${this.options.label} ${this.done}/${this.options.total}`];
    if (this.done > 0) parts.push(this.pace(), eta === null ? 'ETA ?' : `ETA ${formatSeconds(eta)}`);
    if (detail) parts.push(detail);
    return parts.join(' · ');
  }
}

export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
