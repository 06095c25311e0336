import { Command } from 'ioredis';

/**
 * Script arguments encoded for the wire as they are added: each value becomes its RESP bulk
 * string (`$<bytes>\r\n<value>\r\n`) at once, and the whole command is written as one buffer.
 *
 * A chunk's commit carries thousands of arguments (customers, timers, claims, outbox records).
 * Handed to ioredis one by one they were copied into three arrays (the caller's, the spread call,
 * ioredis's flattened copy), stringified, concatenated into a rope of four pieces per value, and
 * the socket then flattened the rope and converted it to UTF-8 byte by byte: together about a
 * quarter of the scorer's CPU per event in bench:state. Here each value costs one small string
 * and a byte count, the command one join, and a command that is all ASCII (the byte counts tell)
 * is copied out as Latin-1, several times cheaper than UTF-8 encoding the same bytes.
 */
export class PackedArgs {
  /** `[0]` is left for the command's head, so the whole command is one join. */
  private readonly parts: string[] = [''];
  private ascii = true;

  /** Number of arguments so far. */
  get count(): number {
    return this.parts.length - 1;
  }

  /** Appends one argument; a number is sent as its decimal text, as ioredis sends it. */
  push(value: string | number): void {
    const text = typeof value === 'string' ? value : String(value);
    const bytes = Buffer.byteLength(text);
    if (bytes !== text.length) this.ascii = false;
    this.parts.push(`$${bytes}\r\n${text}\r\n`);
  }

  /** Appends a placeholder for a count known only later ({@link fill}); returns its position. */
  reserve(): number {
    this.parts.push('');
    return this.parts.length - 1;
  }

  /** Sets the argument at `position` (from {@link reserve}) to a count. */
  fill(position: number, value: number): void {
    const text = String(value);
    this.parts[position] = `$${text.length}\r\n${text}\r\n`;
  }

  /**
   * The command as written to the socket: `head` (RESP of the array length, the command name
   * and the arguments before these), then these arguments.
   */
  wire(head: string, headAscii: boolean): string | Buffer {
    this.parts[0] = head;
    const text = this.parts.join('');
    this.parts[0] = '';
    return headAscii && this.ascii ? Buffer.from(text, 'latin1') : text;
  }
}

/**
 * An EVAL / EVALSHA whose script arguments are already encoded ({@link PackedArgs}). The head (script
 * or SHA, key count, keys) stays ordinary ioredis arguments, so ioredis still knows the keys
 * (Redis Cluster routes by them); only the writing of the command is replaced. Replies are
 * decoded as text, as `redis.eval` decodes them.
 */
export class PackedScriptCommand extends Command {
  constructor(
    name: 'eval' | 'evalsha',
    head: readonly (string | number)[],
    private readonly packed: PackedArgs,
  ) {
    super(name, [...head], { replyEncoding: 'utf8' });
  }

  override toWritable(): string | Buffer {
    let head = `*${1 + this.args.length + this.packed.count}\r\n$${this.name.length}\r\n${this.name}\r\n`;
    let ascii = true;
    for (const arg of this.args) {
      const text = typeof arg === 'string' ? arg : String(arg);
      const bytes = Buffer.byteLength(text);
      if (bytes !== text.length) ascii = false;
      head += `$${bytes}\r\n${text}\r\n`;
    }
    return this.packed.wire(head, ascii);
  }
}
