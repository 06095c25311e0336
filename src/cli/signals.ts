/**
 * Resolves with the first SIGINT or SIGTERM. A second signal while shutting down exits at once
 * with status 1 (an operator pressing Ctrl-C twice means it).
 */
export function nextStopSignal(): { signal: Promise<NodeJS.Signals>; dispose(): void } {
  let onSignal: (signal: NodeJS.Signals) => void = () => undefined;
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    onSignal = (received) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.once('SIGINT', forceExit);
      process.once('SIGTERM', forceExit);
      resolve(received);
    };
  });
  const forceExit = (): never => process.exit(1);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', forceExit);
      process.off('SIGTERM', forceExit);
    },
  };
}
