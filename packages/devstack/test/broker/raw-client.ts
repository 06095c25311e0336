import { connect, type Socket } from 'node:net';
import { Writer } from '../../src/broker/protocol/writer.js';

/** A request frame: size prefix, header v1 (or v2 with `flexible`), body. */
export function requestFrame(apiKey: number, apiVersion: number, correlationId: number, body: Buffer, flexible = false): Buffer {
  const w = new Writer().writeInt16(apiKey).writeInt16(apiVersion).writeInt32(correlationId).writeString('raw-test');
  if (flexible) w.writeUnsignedVarInt(0);
  w.writeRaw(body);
  const payload = w.toBuffer();
  const size = Buffer.allocUnsafe(4);
  size.writeInt32BE(payload.length, 0);
  return Buffer.concat([size, payload]);
}

/** A Fetch v11 body as kafkajs/librdkafka send it, for one partition, without a fetch session. */
export function fetchBodyV11(topic: string, partition: number, offset: number, maxWaitMs: number, partitionMaxBytes = 1_048_576): Buffer {
  const w = new Writer().writeInt32(-1).writeInt32(maxWaitMs).writeInt32(1).writeInt32(10_485_760).writeInt8(1);
  w.writeInt32(0).writeInt32(-1);
  w.writeInt32(1).writeString(topic).writeInt32(1);
  w.writeInt32(partition).writeInt32(-1).writeInt64(offset).writeInt64(-1).writeInt32(partitionMaxBytes);
  w.writeInt32(0).writeString('');
  return w.toBuffer();
}

/** A plain TCP connection that reads size-prefixed response frames. */
export class RawConnection {
  private buffered = Buffer.alloc(0);
  private readonly frames: Buffer[] = [];
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, d]);
      while (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readInt32BE(0)) {
        const size = this.buffered.readInt32BE(0);
        this.frames.push(this.buffered.subarray(4, 4 + size));
        this.buffered = this.buffered.subarray(4 + size);
      }
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(b: Buffer): void {
    if (!this.closed) this.socket.write(b);
  }

  /** Next response frame (without size prefix), or null if the connection closed first / timeout. */
  async nextFrame(timeoutMs = 5000): Promise<Buffer | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0 && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.frames.shift() ?? null;
  }

  /** Resolves once the broker has closed the connection (or after `timeoutMs`, returning false). */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}
