import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type LogFormat = 'pretty' | 'json';
export type { Logger };

export interface LoggingOptions {
  /** Explicit choice; otherwise JSON lines when stdout is not a terminal (batch jobs, pipes). */
  format?: LogFormat;
  quiet?: boolean;
  /** Where log lines go; standard error by default so that results on stdout stay clean. */
  destination?: NodeJS.WritableStream;
}

export function chooseLogFormat(format: LogFormat | undefined): LogFormat {
  return format ?? (process.stdout.isTTY ? 'pretty' : 'json');
}

export function createLogger(options: LoggingOptions = {}): Logger {
  const format = chooseLogFormat(options.format);
  const level = options.quiet ? 'warn' : 'info';
  const destination = options.destination ?? process.stderr;
  if (format === 'json') {
    return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, destination);
  }
  const stream = pretty({
    destination,
    sync: true,
    colorize: (destination as { isTTY?: boolean }).isTTY === true,
    ignore: 'pid,hostname',
    translateTime: 'HH:MM:ss',
  });
  return pino({ level, base: undefined }, stream);
}
