// The seed's "Quick Start / Server Side" route, verbatim.
import { getPlatform } from '@maravilla-labs/platform';

const platform = getPlatform();

// In your API route handler
export async function POST({ request }) {
  const { text, roomId, userId } = await request.json();

  // Publish to the channel — all connected browsers will receive this
  await platform.realtime.publish(`room:${roomId}`, {
    type: 'chat',
    text,
    userId,
    timestamp: Date.now(),
  });

  return new Response(JSON.stringify({ ok: true }));
}
