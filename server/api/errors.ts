// Every refusal the API gives: an HTTP status, a stable code tests and clients rely on, a message.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const bad = (code: string, message: string) => new ApiError(400, code, message);
export const forbidden = (code: string, message: string) => new ApiError(403, code, message);
export const notFound = (what: string) => new ApiError(404, 'not-found', `${what} not found`);
export const conflict = (code: string, message: string) => new ApiError(409, code, message);
export const unauthorized = (code: string, message: string) => new ApiError(401, code, message);
