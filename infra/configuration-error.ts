/**
 * An operator's configuration (policy file, property protections, quotas) that Skyglass cannot
 * apply. Start-up prints its message alone and exits 1; synthesis fails with it. The message
 * names the file and what is wrong.
 */
export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}
