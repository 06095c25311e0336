import { Command } from 'ioredis';

/**
 * Script arguments encoded for the wire as they are added: each value becomes its RESP bulk
 * string (`$<bytes>\r\n<value>\r\n`) at once, and the whole list is sent as one string.
 *
 * A chunk's commit carries thousands of arguments (customers, timers, claims, outbox records).
 * Handed to ioredis one by one they were copied into three arrays (the caller's, the spread call,
 * ioredis's flattened copy), stringified, and concatenated into a rope of four pieces per value
 * that the socket then had to flatten: together a quarter of the scorer's CPU per event in
 * bench:state. Here each value costs one small string and a byte count, and the list one join.
 */
export class PackedArgs {
  private readonly parts: string[] = [];

  /** Number of arguments so far. */
  get count(): number {
    return this.parts.length;
  }

  /** Appends one argument; a number is sent as its decimal text, as ioredis sends it. */
  push(value: string | number): void {
    const text = typeof value === 'string' ? value : String(value);
    this.parts.push(`$${Buffer.byteLength(text)}\r\n${text}\r\n`);
  }

  /** Appends a placeholder for a count known only later ({@link fill}); returns its position. */
  reserve(): number {
    this.parts.push('');
    return this.parts.length - 1;
  }

  /** Sets the argument at `position` (from {@link reserve}). */
  fill(position: number, value: number): void {
    const text = String(value);
    this.parts[position] = `$${text.length}\r\n${text}\r\n`;
  }

  /** The arguments as they go on the wire, after the command name and the head arguments. */
  encoded(): string {
    return this.parts.join('');
  }
}

/**
 * An EVAL / EVALSHA whose script arguments are already encoded ({@link PackedArgs}). The head (script
 * or SHA, key count, keys) stays ordinary ioredis arguments, so ioredis still knows the keys
 * (Redis Cluster routes by them); only the writing of the arguments is replaced. Replies are
 * decoded as text, as `redis.eval` decodes them.
 */
export class PackedScriptCommand extends Command {
  private readonly packedCount: number;
  private readonly packed: string;

  constructor(name: 'eval' | 'evalsha', head: readonly (string | number)[], args: PackedArgs) {
    super(name, [...head], { replyEncoding: 'utf8' });
    this.packedCount = args.count;
    this.packed = args.encoded();
  }

  override toWritable(): string {
    let out = `*${1 + this.args.length + this.packedCount}\r\n$${this.name.length}\r\n${this.name}\r\n`;
    for (const arg of this.args) {
      const text = typeof arg === 'string' ? arg : String(arg);
      out += `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
    }
    return out + this.packed;
  }
}
