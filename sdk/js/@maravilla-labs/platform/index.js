// @maravilla-labs/platform for Switchboard: the parts of the Maravilla platform SDK that Realtime Channels use.
//
//   Browser:  import { RealtimeClient } from "@maravilla-labs/platform";   (import map → /sdk/@maravilla-labs/platform/index.js)
//   Server:   import { getPlatform } from "@maravilla-labs/platform";      (env MARAVILLA_REALTIME_URL, MARAVILLA_REALTIME_SECRET)
//
// Plain ES modules with no dependencies and no build step.

export { RealtimeClient } from "./realtime-client.js";
export { getPlatform, Platform, RealtimeServer, RealtimeError } from "./platform.js";
export { ENV, socketURL } from "./endpoint.js";

/** This package's version. */
export const VERSION = "0.1.0";
