import { memberSchema } from '../../shared/domain/image-members.js';
import { httpHandler } from '../../shared/http/handler.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async () => json(200, memberSchema()));
