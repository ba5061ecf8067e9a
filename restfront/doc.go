// Package restfront serves HTTP: the Crowd-compatible usermanagement/1 API
// for Atlassian applications, the health and metrics endpoints, and the
// admin API that the dirgate CLI reaches over the unix socket in data_dir.
package restfront
