import type { Socket } from 'node:net';
import type { Logger } from '../logger.js';
import type { ApiRegistry, ConnectionInfo } from './api-registry.js';
import { unsupportedApiVersionsBody } from './apis/api-versions.js';
import type { BrokerContext } from './context.js';
import { ApiKey, apiKeyName } from './protocol/api-keys.js';
import { KafkaProtocolError } from './protocol/errors.js';
import { readRequestHeaderPrefix, readRequestHeaderRest, writeResponseHeader } from './protocol/header.js';
import { Reader } from './protocol/reader.js';
import type { Writer } from './protocol/writer.js';

/** Smallest possible request: api_key, api_version, correlation_id, client_id length. */
const MIN_FRAME_SIZE = 10;
/** Frames queued but not yet handled before the socket stops being read (backpressure). */
const MAX_QUEUED_FRAMES = 64;

export interface ConnectionOptions {
  readonly id: number;
  readonly socket: Socket;
  readonly registry: ApiRegistry;
  readonly broker: BrokerContext;
  readonly maxFrameSize: number;
  readonly logger: Logger;
}

/**
 * One client connection: splits the byte stream into size-prefixed frames
 * (https://kafka.apache.org/protocol#protocol_common), handles them one at a time in arrival order
 * and writes each response before handling the next — the order guarantee of Kafka's Network
 * section, and the reason a held Fetch or JoinGroup only delays its own connection.
 *
 * Anything wrong with a frame (bad size, unknown API, unsupported version, malformed body) ends
 * this connection with a warning; nothing here can throw into the server.
 */
export class Connection {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private readonly frames: Buffer[] = [];
  private processing = false;
  private readonly abort = new AbortController();
  private readonly info: ConnectionInfo;
  private readonly log: Logger;

  constructor(private readonly opts: ConnectionOptions) {
    const { socket } = opts;
    this.info = { id: opts.id, remoteAddress: `${socket.remoteAddress}:${socket.remotePort}`, closed: this.abort.signal };
    this.log = opts.logger.child({ conn: opts.id, remote: this.info.remoteAddress });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.log.debug({ err }, 'socket error'));
    socket.on('close', () => this.abort.abort());
  }

  /** Closes the connection now (broker shutdown). */
  destroy(): void {
    this.opts.socket.destroy();
  }

  private fail(message: string, details: Record<string, unknown> = {}): void {
    this.log.warn(details, `closing connection: ${message}`);
    this.frames.length = 0;
    this.chunks.length = 0;
    this.buffered = 0;
    this.opts.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.opts.socket.destroyed) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= 4) {
      let head = this.chunks[0] as Buffer;
      if (head.length < 4) {
        head = Buffer.concat(this.chunks, this.buffered);
        this.chunks.length = 0;
        this.chunks.push(head);
      }
      const size = head.readInt32BE(0);
      if (size < MIN_FRAME_SIZE || size > this.opts.maxFrameSize) {
        this.fail('invalid frame size', { size, maxFrameSize: this.opts.maxFrameSize });
        return;
      }
      if (this.buffered < 4 + size) break;
      let frame: Buffer;
      if (head.length >= 4 + size) {
        frame = head.subarray(4, 4 + size);
        if (head.length === 4 + size) this.chunks.shift();
        else this.chunks[0] = head.subarray(4 + size);
      } else {
        const all = Buffer.concat(this.chunks, this.buffered);
        frame = all.subarray(4, 4 + size);
        this.chunks.length = 0;
        if (all.length > 4 + size) this.chunks.push(all.subarray(4 + size));
      }
      this.buffered -= 4 + size;
      this.frames.push(frame);
    }
    if (this.frames.length >= MAX_QUEUED_FRAMES) this.opts.socket.pause();
    if (!this.processing) void this.processFrames();
  }

  private async processFrames(): Promise<void> {
    this.processing = true;
    try {
      let frame: Buffer | undefined;
      while ((frame = this.frames.shift()) !== undefined) {
        if (this.opts.socket.destroyed) return;
        await this.handleFrame(frame);
        // A client that sends but does not read must not make us buffer responses without bound.
        if (this.opts.socket.writableNeedDrain) await this.drained();
        if (this.frames.length < MAX_QUEUED_FRAMES / 2 && this.opts.socket.isPaused()) this.opts.socket.resume();
      }
    } finally {
      this.processing = false;
    }
  }

  private drained(): Promise<void> {
    const { socket } = this.opts;
    return new Promise((resolve) => {
      const done = (): void => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }

  private async handleFrame(frame: Buffer): Promise<void> {
    const reader = new Reader(frame);
    let apiKey = -1;
    let apiVersion = -1;
    try {
      const prefix = readRequestHeaderPrefix(reader);
      ({ apiKey, apiVersion } = prefix);
      const handler = this.opts.registry.get(apiKey);
      if (handler === undefined) {
        this.fail('unknown API key', { apiKey, apiVersion });
        return;
      }
      if (apiVersion < handler.minVersion || apiVersion > handler.maxVersion) {
        if (apiKey === ApiKey.ApiVersions) {
          this.send(prefix.correlationId, 0, unsupportedApiVersionsBody());
          return;
        }
        this.fail('unsupported API version', { api: apiKeyName(apiKey), apiVersion });
        return;
      }
      const flexible = handler.flexibleFrom !== undefined && apiVersion >= handler.flexibleFrom;
      const { clientId } = readRequestHeaderRest(reader, flexible);
      const header = { ...prefix, clientId };
      const body = await handler.handle({ broker: this.opts.broker, header, connection: this.info }, reader);
      if (body === null) return;
      this.send(prefix.correlationId, flexible && apiKey !== ApiKey.ApiVersions ? 1 : 0, body);
    } catch (err) {
      if (err instanceof KafkaProtocolError) {
        this.fail('malformed request', { api: apiKeyName(apiKey), apiVersion, reason: err.message });
      } else {
        this.log.error({ err, api: apiKeyName(apiKey), apiVersion }, 'request handler failed');
        this.fail('handler error', { api: apiKeyName(apiKey), apiVersion });
      }
    }
  }

  private send(correlationId: number, headerVersion: 0 | 1, body: Writer): void {
    const { socket } = this.opts;
    if (socket.destroyed) return;
    const header = writeResponseHeader(correlationId, headerVersion);
    const parts = body.toBuffers();
    const prefix = Buffer.allocUnsafe(4 + header.length);
    prefix.writeInt32BE(header.length + body.length, 0);
    header.copy(prefix, 4);
    socket.cork();
    socket.write(prefix);
    for (const part of parts) socket.write(part);
    socket.uncork();
  }
}
