// Reconnect delays and host classification for @domvia/realtime.

/**
 * The delay before reconnect attempt `attempt` (0-based): exponential from `minDelayMs`, capped at `maxDelayMs`, with
 * "equal jitter" (half fixed, half random) so that clients dropped together do not all come back in the same instant.
 */
export function backoffDelay(attempt, { minDelayMs = 500, maxDelayMs = 30_000 } = {}, random = Math.random) {
    const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(attempt, 30));
    return ceiling / 2 + random() * (ceiling / 2);
}

/** True for hosts that are this machine (no TLS by default there): localhost, 127.0.0.0/8, ::1. */
export function isLoopbackHost(hostname) {
    const name = String(hostname).toLowerCase();
    return name === "localhost" || name.endsWith(".localhost") || /^127\.\d+\.\d+\.\d+$/.test(name) || name === "::1";
}
