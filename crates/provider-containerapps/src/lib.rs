//! Ferry's Azure Container Apps backend (`Microsoft.App/containerApps`).
