// The seed's "Private Channels / Server-side: generate a token", verbatim between the markers (without its final
// `return new Response(…)`, which belongs to a route: maravilla/routes/chat-vip-token.mjs runs that form).
import { getPlatform } from '@maravilla-labs/platform';
// --- seed ---
const platform = getPlatform();

// Generate a token that lets alice subscribe and publish to this channel
const token = await platform.realtime.createChannelToken('private-room:vip', {
  userId: 'alice',
  permissions: ['subscribe', 'publish'],
  expiresIn: 3600, // 1 hour
});
// --- harness ---
console.log(JSON.stringify({ token }));
