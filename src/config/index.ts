/** optimization.yaml: schema, shipped defaults, loading with clear errors, file locations. */
export { ConfigError, defaultConfig, loadConfig, loadConfigAt, MAX_CONFIG_BYTES, parseConfig, parseLayer, readConfigFile, unknownProfile, type ConfigFragment, type LoadedConfig } from './load.js';
export { configLocation, dataDir, LOG_FILE_NAME, logDir, logFile, MAX_ROTATED_LOGS, SYSTEM_CONFIG, SYSTEM_DATA_DIR, SYSTEM_LOG_DIR, type ConfigLocation } from './paths.js';
export { DURATION_BOUNDS, durationSeconds, METRIC_SELECTORS, type Config, type MetricSelector, type ProfileConfig, type RuleConfig, type TierConfig } from './schema.js';
export { MASK, MIN_SECRET_LENGTH, redactConfig, redactUrl, Redactor } from './secrets.js';
export { ENV_SETTINGS, parseBoolean, type AppliedEnv, type Env } from './env.js';
