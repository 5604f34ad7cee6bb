//! Azure Resource Manager for Ferry's two Azure backends (Container Apps and Container
//! Instances): credentials from a ProviderConfig's `azure` section, requests to ARM, its
//! long-running operations, and its errors classified as Ferry's.
