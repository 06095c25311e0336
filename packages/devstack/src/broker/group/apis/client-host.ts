import type { RequestContext } from '../../api-registry.js';

/**
 * The `client_host` Kafka reports for a member (DescribeGroups): the peer address with a leading
 * slash and without the port, as Java's InetAddress.toString prints it.
 */
export function clientHost(ctx: RequestContext): string {
  const address = ctx.connection.remoteAddress;
  const colon = address.lastIndexOf(':');
  return `/${colon > 0 ? address.slice(0, colon) : address}`;
}
