// Where the console finds the platform API. Empty: the page's own origin (the local stack serves
// both at http://127.0.0.1:PORT; docs/operations.md, "Web console"). Deployed behind CloudFront,
// replace this file in the bucket with the stack's ApiUrl output, e.g.
//   export default { apiUrl: "https://abc123.execute-api.eu-west-1.amazonaws.com/dev" };
export default { apiUrl: "" };
