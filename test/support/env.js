// The AWS SDK warns once per process (so once per jest worker file) that its releases after
// January 2027 need Node >= 22. The tests run on Node 20 by design (the Lambdas run nodejs22.x);
// the warning is noise in test output, so it is switched off here with the SDK's own variable.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
