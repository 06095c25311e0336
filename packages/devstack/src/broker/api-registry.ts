import type { BrokerContext } from './context.js';
import type { RequestHeader } from './protocol/header.js';
import type { Reader } from './protocol/reader.js';
import type { Writer } from './protocol/writer.js';

/** What a handler knows about the connection a request came in on. */
export interface ConnectionInfo {
  /** Unique per broker instance, for logs and per-connection state. */
  readonly id: number;
  readonly remoteAddress: string;
  /** Aborted when the client disconnects (or the broker closes); long-held requests stop waiting. */
  readonly closed: AbortSignal;
}

/** Everything a handler gets besides the body. */
export interface RequestContext {
  readonly broker: BrokerContext;
  readonly header: RequestHeader;
  readonly connection: ConnectionInfo;
}

/**
 * One Kafka API, https://kafka.apache.org/protocol#protocol_messages.
 *
 * The server reads the frame and header, checks `minVersion <= apiVersion <= maxVersion` (an
 * unsupported version closes the connection, except ApiVersions, which answers error 35), and
 * calls `handle` with a Reader positioned at the start of the request body.
 *
 * Contract:
 * - `handle` returns the response BODY only; the server writes size, correlation id and, for
 *   flexible versions, the response header tag byte. Return `null` to send no response at all
 *   (Produce with acks=0 is the only such case).
 * - Requests on one connection are handled one at a time, in arrival order, and answered in that
 *   order (Kafka mutes a channel while a request is in flight). A handler may therefore hold a
 *   response (Fetch long-poll, JoinGroup barrier); only that connection waits. It should stop
 *   waiting when `ctx.connection.closed` aborts.
 * - Throwing `KafkaProtocolError` (the Reader does this on truncated input) means "malformed
 *   request": the server logs a warning and closes that connection. Any other exception is a bug;
 *   it is logged at error level and also closes only that connection.
 * - `flexibleFrom`: the first flexible version (KIP-482). Requests at or above it have request
 *   header v2 and, except ApiVersions, response header v1. Advertise a `maxVersion` below it unless
 *   the handler really parses compact/tagged bodies (WIRE-FACTS.md §0, headline fact 3).
 */
export interface ApiHandler {
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly flexibleFrom?: number;
  handle(ctx: RequestContext, body: Reader): Promise<Writer | null> | Writer | null;
}

/** The dispatch table of one broker instance; ApiVersions advertises exactly what is registered. */
export class ApiRegistry {
  private readonly handlers = new Map<number, ApiHandler>();

  /** Adds a handler; registering the same API key twice is a wiring bug and throws. */
  register(handler: ApiHandler): void {
    if (this.handlers.has(handler.apiKey)) {
      throw new Error(`API key ${handler.apiKey} is registered twice`);
    }
    this.handlers.set(handler.apiKey, handler);
  }

  get(apiKey: number): ApiHandler | undefined {
    return this.handlers.get(apiKey);
  }

  /** All handlers ordered by API key, for the ApiVersions response. */
  list(): ApiHandler[] {
    return [...this.handlers.values()].sort((a, b) => a.apiKey - b.apiKey);
  }
}
