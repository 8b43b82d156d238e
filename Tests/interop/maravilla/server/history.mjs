// The seed's "Message History / Server-side: query history", verbatim between the markers (`lastSeenSeq` comes from
// the harness).
import { getPlatform } from '@maravilla-labs/platform';
const lastSeenSeq = Number(process.env.LAST_SEEN_SEQ);
// --- seed ---
const platform = getPlatform();

// Get the last 50 messages from a channel
const messages = await platform.realtime.history('chat:general', {
  limit: 50,
});

// Get messages after a specific sequence number (for pagination)
const older = await platform.realtime.history('chat:general', {
  limit: 20,
  after: lastSeenSeq,
});
// --- harness ---
console.log(JSON.stringify({ messages, older }));
