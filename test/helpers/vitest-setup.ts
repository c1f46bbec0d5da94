// Vitest setup file (vitest.config.mts): every file's tests end their ./cleanup scopes here.
import { afterAll, afterEach, beforeEach } from 'vitest';
import { fileEnded, testEnded, testStarted } from './cleanup';

beforeEach(() => testStarted());
afterEach(() => testEnded());
afterAll(() => fileEnded());
