// The seed's "channels()" example, verbatim between the markers.
import { getPlatform } from '@maravilla-labs/platform';
const platform = getPlatform();
// --- seed ---
const activeChannels = await platform.realtime.channels();
// ['chat:general', 'chat:support', 'game:room-1']
// --- harness ---
console.log(JSON.stringify({ activeChannels }));
