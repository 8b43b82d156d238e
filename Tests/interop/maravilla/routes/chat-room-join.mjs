// The seed's "Example: Live Chat / Server Presence Hook", verbatim.
// src/routes/api/chat/[room]/join/+server.ts
import { getPlatform } from '@maravilla-labs/platform';

const platform = getPlatform();

export async function POST({ params, request }) {
  const { userId, userName } = await request.json();

  await platform.realtime.presence.join(`chat:${params.room}`, userId, {
    name: userName,
  });

  return new Response(JSON.stringify({ ok: true }));
}
