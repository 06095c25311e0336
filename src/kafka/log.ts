import kafkajs from 'kafkajs';
import type { logCreator, LogEntry } from 'kafkajs';
import type { Logger } from '../logger.js';

const { logLevel: KafkaLogLevel } = kafkajs;

/**
 * The kafkajs level matching a pino level. kafkajs DEBUG logs every protocol request, so it is
 * reserved for pino `trace`; pino `debug` gets kafkajs INFO (joins, rebalances, reconnects).
 */
export function kafkaLogLevelFor(level: string): kafkajs.logLevel {
  switch (level) {
    case 'trace':
      return KafkaLogLevel.DEBUG;
    case 'debug':
    case 'info':
      return KafkaLogLevel.INFO;
    case 'warn':
      return KafkaLogLevel.WARN;
    case 'silent':
      return KafkaLogLevel.NOTHING;
    default:
      return KafkaLogLevel.ERROR;
  }
}

/**
 * Routes kafkajs's own log lines into pino (JSON, redaction applied) instead of kafkajs's console
 * logger, tagged `component: kafkajs` and the kafkajs namespace (Consumer, Connection, ...).
 */
export function createKafkaLogCreator(logger: Logger): logCreator {
  const base = logger.child({ component: 'kafkajs' });
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, timestamp: _timestamp, logger: _origin, stack, ...extra } = log;
      // kafkajs attaches a stack to every retried connection error; the message says what
      // failed, and where in kafkajs only matters to someone debugging (as for pyramid's own).
      const fields = { namespace, ...extra, ...(stack !== undefined && base.isLevelEnabled('debug') ? { stack } : {}) };
      switch (level) {
        case KafkaLogLevel.ERROR:
          base.error(fields, message);
          break;
        case KafkaLogLevel.WARN:
          base.warn(fields, message);
          break;
        case KafkaLogLevel.INFO:
          base.info(fields, message);
          break;
        default:
          base.debug(fields, message);
      }
    };
}
