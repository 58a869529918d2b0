/**
 * The CDK app: `npx cdk deploy` runs this file (see cdk.json). Pass options to the stack here, e.g.
 * `{ versions: "all" }` for a versioned bucket, or `{ globalTable: true }` for a global table.
 */
import { App } from "aws-cdk-lib";
import { ProductImagesCleanupStack } from "../lib/product-images-cleanup-stack.js";

const app = new App();
new ProductImagesCleanupStack(app, "ProductImagesCleanup");
