// The seed's "Example: Live Chat / Server Route" (src/routes/api/chat/[room]/+server.ts), verbatim.
// src/routes/api/chat/[room]/+server.ts
import { getPlatform } from '@maravilla-labs/platform';

const platform = getPlatform();

export async function POST({ params, request }) {
  const { text, userId, userName } = await request.json();

  // Store in database
  await platform.DB.messages.insertOne({
    room: params.room,
    text,
    userId,
    userName,
    createdAt: Date.now(),
  });

  // Broadcast to channel — all connected clients see it instantly
  await platform.realtime.publish(`chat:${params.room}`, {
    type: 'message',
    text,
    userId,
    userName,
    createdAt: Date.now(),
  });

  return new Response(JSON.stringify({ ok: true }));
}

export async function GET({ params }) {
  const messages = await platform.DB.messages.find(
    { room: params.room },
    { limit: 50, sort: { createdAt: -1 } }
  );

  const members = await platform.realtime.presence.members(`chat:${params.room}`);

  return new Response(JSON.stringify({ messages, members }));
}
