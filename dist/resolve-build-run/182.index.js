export const id = 182;
export const ids = [182];
export const modules = {

/***/ 182:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   createGitHubClient: () => (/* binding */ createGitHubClient)
/* harmony export */ });
/* unused harmony exports DEFAULT_API_URL, apiBaseUrl */
/* harmony import */ var _octokit_rest__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(988);
/* harmony import */ var _octokit_plugin_retry__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(735);
/* harmony import */ var _octokit_plugin_throttling__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(856);
/* harmony import */ var _logger_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(157);




const DEFAULT_API_URL = 'https://api.github.com';
function apiBaseUrl(explicit) {
    return (explicit || process.env.GITHUB_API_URL || DEFAULT_API_URL).replace(/\/+$/, '');
}
const RetryingOctokit = _octokit_rest__WEBPACK_IMPORTED_MODULE_1__/* .Octokit */ .E.plugin(_octokit_plugin_retry__WEBPACK_IMPORTED_MODULE_2__/* .retry */ .L, _octokit_plugin_throttling__WEBPACK_IMPORTED_MODULE_3__/* .throttling */ .A);
function createGitHubClient(options) {
    const logger = options.logger ?? _logger_js__WEBPACK_IMPORTED_MODULE_0__/* .silentLogger */ .q;
    const retries = options.retries ?? 3;
    const unit = options.retryUnitMs ?? 1000;
    const maxWait = options.maxRateLimitWaitSeconds ?? 120;
    const onLimit = (kind) => (retryAfter, request, _octokit, retryCount) => {
        if (retryCount < retries && retryAfter <= maxWait) {
            logger.warning(`GitHub ${kind} rate limit on ${request.method} ${request.url}; retrying in ${retryAfter}s (retry ${retryCount + 1} of ${retries})`);
            return true;
        }
        logger.debug(`GitHub ${kind} rate limit on ${request.method} ${request.url}; not retrying (retry-after ${retryAfter}s, ${retryCount} retries used)`);
        return false;
    };
    const octokit = new RetryingOctokit({
        auth: options.token,
        baseUrl: apiBaseUrl(options.baseUrl),
        userAgent: options.userAgent ?? 'deploy-gates',
        log: { debug: () => { }, info: () => { }, warn: (message) => logger.debug(message), error: (message) => logger.debug(message) },
        retry: { retries, retryAfterBaseValue: unit },
        throttle: {
            // A private id per client, so tests with several doubles never share limiter state.
            id: `deploy-gates-${Math.random().toString(36).slice(2)}`,
            retryAfterBaseValue: unit,
            fallbackSecondaryRateRetryAfter: 60,
            onRateLimit: onLimit('primary'),
            onSecondaryRateLimit: onLimit('secondary'),
        },
    });
    return {
        request: async (route, parameters) => {
            const response = await octokit.request(route, parameters ?? {});
            return { status: response.status, data: response.data, headers: response.headers };
        },
    };
}


/***/ })

};
