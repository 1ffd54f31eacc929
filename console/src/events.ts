// Server-Sent Events read with fetch, because EventSource cannot send an Authorization
// header. The stream remembers the last event id and reconnects with Last-Event-ID after
// a growing pause, so nothing is missed; the owner refetches its state after a reconnect.

export interface ServerEvent {
  id: string | null;
  event: string;
  data: string;
}

/** Splits a text/event-stream into events (the WHATWG "event stream interpretation"). */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private eventType = '';
  private id: string | null = null;
  /** The id of the last event dispatched (or set by an `id:` line), as the spec keeps it. */
  lastEventId: string | null = null;

  push(chunk: string): ServerEvent[] {
    this.buffer += chunk;
    const events: ServerEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (!match || (match[0] === '\r' && match.index === this.buffer.length - 1)) {
        break;
      }
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = this.line(line);
      if (event) {
        events.push(event);
      }
    }
    return events;
  }

  private line(line: string): ServerEvent | null {
    if (line === '') {
      if (this.id !== null) {
        this.lastEventId = this.id;
      }
      if (this.data.length === 0) {
        this.eventType = '';
        return null;
      }
      const event = { id: this.lastEventId, event: this.eventType || 'message', data: this.data.join('\n') };
      this.data = [];
      this.eventType = '';
      return event;
    }
    if (line.startsWith(':')) {
      return null;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) {
      value = value.slice(1);
    }
    if (field === 'data') {
      this.data.push(value);
    } else if (field === 'event') {
      this.eventType = value;
    } else if (field === 'id' && !value.includes('\0')) {
      this.id = value;
    }
    return null;
  }
}

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'unauthorized';

export interface EventStreamOptions {
  url: string;
  token: string;
  onEvent: (event: ServerEvent) => void;
  onState: (state: ConnectionState, retryInS?: number) => void;
  /**
   * Called each time the stream opens, the first time included: events published before
   * it opened (after a break, or while the page was loading its lists) were not seen on
   * it, so the caller reads its state again. The server subscribes a stream before it
   * answers, so nothing published after this call is missed.
   */
  onOpened: () => void;
}

/** Pauses between attempts: doubling from half a second, at most this many seconds. */
const RETRY_MS_MIN = 500;
const RETRY_MS_MAX = 15_000;

export class EventStream {
  private abort: AbortController | null = null;
  private stopped = false;
  private lastEventId: string | null = null;
  private failures = 0;
  private everOpened = false;
  private wakeUp: (() => void) | null = null;

  constructor(private readonly options: EventStreamOptions) {}

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
    this.wakeUp?.();
  }

  /** Drops the current connection (tests and a "reconnect now" button use it). */
  reconnectNow(): void {
    this.abort?.abort();
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.options.onState(this.everOpened ? 'reconnecting' : 'connecting');
      const outcome = await this.connectOnce();
      if (this.stopped) {
        return;
      }
      if (outcome === 'unauthorized') {
        this.options.onState('unauthorized');
        return;
      }
      this.failures += 1;
      const delay_ms = Math.min(RETRY_MS_MAX, RETRY_MS_MIN * 2 ** (this.failures - 1));
      this.options.onState('reconnecting', Math.ceil(delay_ms / 1000));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay_ms);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = null;
    }
  }

  private async connectOnce(): Promise<'closed' | 'unauthorized'> {
    this.abort = new AbortController();
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.options.token}`,
      Accept: 'text/event-stream',
    };
    if (this.lastEventId !== null) {
      headers['Last-Event-ID'] = this.lastEventId;
    }
    try {
      const response = await fetch(this.options.url, {
        headers,
        signal: this.abort.signal,
        cache: 'no-store',
      });
      if (response.status === 401) {
        return 'unauthorized';
      }
      if (!response.ok || !response.body) {
        return 'closed';
      }
      this.everOpened = true;
      this.failures = 0;
      this.options.onState('live');
      this.options.onOpened();
      const parser = new SseParser();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          return 'closed';
        }
        for (const event of parser.push(value)) {
          if (event.id !== null) {
            this.lastEventId = event.id;
          }
          try {
            this.options.onEvent(event);
          } catch (error) {
            console.error('event handler failed', event, error);
          }
        }
      }
    } catch {
      return 'closed';
    }
  }
}
