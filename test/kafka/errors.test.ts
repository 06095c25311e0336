import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { kafkaError } from '../../src/kafka/errors.js';

/** What kafkajs's retrier throws for an error it will not retry (again): `new KafkaJSNonRetriableError(e, { cause })`, which its typings leave out. */
function gaveUpOn(err: Error): Error {
  return Object.assign(new kafkajs.KafkaJSNonRetriableError(err), { cause: err });
}

describe('kafkaError', () => {
  it('an exhausted kafkajs retry of a connection error stays retriable (simulate died on the first broker outage)', () => {
    const refused = new kafkajs.KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
    const exhausted = new kafkajs.KafkaJSNumberOfRetriesExceeded(refused, { retryCount: 5, retryTime: 3000 });
    expect(exhausted.retriable).toBe(false);
    const err = kafkaError('produce to tx', exhausted);
    expect(err.retriable).toBe(true);
    expect(err.message).toBe('kafka produce to tx failed: Connection error: connect ECONNREFUSED 127.0.0.1:9092');
  });

  it('so does one a nested retrier gave up on (a send retrying a broker connect), which kafkajs calls not retriable', () => {
    const refused = new kafkajs.KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
    const gaveUp = gaveUpOn(refused);
    expect((gaveUp as { retriable?: boolean }).retriable).toBe(false);
    expect(kafkaError('produce to tx', gaveUp).retriable).toBe(true);
  });

  it('a failure that is not retriable at its root stays so, however kafkajs wrapped it', () => {
    const denied = new kafkajs.KafkaJSNonRetriableError('Topic authorization failed');
    expect(kafkaError('produce', gaveUpOn(denied)).retriable).toBe(false);
  });

  it('keeps kafkajs\'s verdict otherwise', () => {
    expect(kafkaError('produce', new kafkajs.KafkaJSNonRetriableError('Topic authorization failed')).retriable).toBe(false);
    expect(kafkaError('produce', new kafkajs.KafkaJSConnectionError('Connection timeout')).retriable).toBe(true);
    expect(kafkaError('produce', new Error('something else')).retriable).toBe(true);
  });
});
