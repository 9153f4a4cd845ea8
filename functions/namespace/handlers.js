// Placeholder pass-through handler set; the real checks land in a following commit.
import { util } from '@aws-appsync/utils';

export function onPublish(ctx) {
  return ctx.events;
}

export function onSubscribe(ctx) {
  return;
}
