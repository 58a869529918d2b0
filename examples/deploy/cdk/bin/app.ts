/**
 * The CDK app: `npx cdk deploy` runs this file (see cdk.json). Pass options to the stack here, e.g.
 * `{ versions: "all" }` for a versioned bucket, or `{ globalTable: true }` for a global table.
 * `reconcile` adds the images' daily inventory and the Distributed Map state machine that reconciles
 * the bucket with the table from it; `{ allowDelete: false }` there makes every run report only.
 */
import { App } from "aws-cdk-lib";
import { ProductImagesCleanupStack } from "../lib/product-images-cleanup-stack.js";

const app = new App();
new ProductImagesCleanupStack(app, "ProductImagesCleanup", { reconcile: {} });
