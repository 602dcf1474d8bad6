/** An answer the API gives on purpose (bad request, not found, ...): JSON `{error}` with the status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}
