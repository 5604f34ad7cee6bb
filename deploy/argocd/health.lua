-- Argo CD health check for ferry.dev/ServerlessService.
-- Install as argocd-cm `resource.customizations.health.ferry.dev_ServerlessService` (see README.md;
-- argocd-cm-patch.yaml is generated from this file). Lua 5.1 only: Argo CD runs gopher-lua.
--
-- Healthy only when Ferry has seen the latest spec (status.observedGeneration == generation) and
-- Ready is True for that generation. Stalled=True or Ready=False is Degraded; anything still
-- moving (no status yet, a generation behind, Reconciling=True, Ready=Unknown) is Progressing.

local function condition(conditions, type_)
  for _, c in ipairs(conditions) do
    if c.type == type_ then
      return c
    end
  end
  return nil
end

-- "Reason: message", or whichever of the two is present.
local function describe(c, fallback)
  local reason = c.reason
  local message = c.message
  if reason ~= nil and reason ~= "" and message ~= nil and message ~= "" then
    return reason .. ": " .. message
  end
  if message ~= nil and message ~= "" then
    return message
  end
  if reason ~= nil and reason ~= "" then
    return reason
  end
  return fallback
end

-- A condition written for an older generation says nothing about the current spec.
local function stale(c, generation)
  return generation ~= nil and c.observedGeneration ~= nil and c.observedGeneration ~= generation
end

local function is_true(c, generation)
  return c ~= nil and c.status == "True" and not stale(c, generation)
end

-- Synced=False while Ready still stands: the last write to the provider failed (Ferry retries).
local function with_sync_problem(message, synced, generation)
  if synced ~= nil and synced.status == "False" and not stale(synced, generation) then
    return message .. " (last sync failed, " .. describe(synced, "Synced=False") .. ")"
  end
  return message
end

local function assess(obj)
  local generation = obj.metadata and obj.metadata.generation
  local status = obj.status
  local conditions = (status and status.conditions) or {}
  local ready = condition(conditions, "Ready")

  if obj.metadata and obj.metadata.deletionTimestamp ~= nil then
    if ready ~= nil and ready.reason == "Deleting" then
      return "Progressing", describe(ready, "Deleting")
    end
    return "Progressing", "Deleting: waiting for Ferry to remove what it created"
  end

  if status == nil or status.observedGeneration == nil then
    return "Progressing", "Waiting for Ferry to report status"
  end
  if generation ~= nil and status.observedGeneration ~= generation then
    return "Progressing", "Waiting for Ferry to observe generation " .. tostring(generation)
      .. " (status is for generation " .. tostring(status.observedGeneration) .. ")"
  end

  local stalled = condition(conditions, "Stalled")
  if is_true(stalled, generation) then
    return "Degraded", describe(stalled, "Stalled")
  end
  local reconciling = condition(conditions, "Reconciling")
  if is_true(reconciling, generation) then
    return "Progressing", describe(reconciling, "Reconciling")
  end

  local synced = condition(conditions, "Synced")
  if ready == nil then
    return "Progressing", with_sync_problem("Waiting for the Ready condition", synced, generation)
  end
  if stale(ready, generation) then
    local message = "Waiting for Ready to report generation " .. tostring(generation)
      .. " (Ready=" .. tostring(ready.status) .. " is for generation "
      .. tostring(ready.observedGeneration) .. ")"
    return "Progressing", with_sync_problem(message, synced, generation)
  end
  if ready.status == "True" then
    local message = describe(ready, "Ready")
    if status.url ~= nil and status.url ~= "" then
      message = message .. " at " .. status.url
    end
    return "Healthy", with_sync_problem(message, synced, generation)
  end
  if ready.status == "False" then
    return "Degraded", describe(ready, "Ready=False")
  end
  return "Progressing", describe(ready, "Ready=" .. tostring(ready.status))
end

local hs = {}
hs.status, hs.message = assess(obj)
return hs
