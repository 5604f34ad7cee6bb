//! Ferry's Azure Container Instances backend (`Microsoft.ContainerInstance/containerGroups`).
