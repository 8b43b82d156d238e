// The seed's "Private Channels / Server-side: generate a token", verbatim inside a GET handler (the snippet ends with
// `return new Response(…)`, so it is a route body).
import { getPlatform } from '@maravilla-labs/platform';

export async function GET() {
const platform = getPlatform();

// Generate a token that lets alice subscribe and publish to this channel
const token = await platform.realtime.createChannelToken('private-room:vip', {
  userId: 'alice',
  permissions: ['subscribe', 'publish'],
  expiresIn: 3600, // 1 hour
});

// Return token to the client
return new Response(JSON.stringify({ token }));
}
