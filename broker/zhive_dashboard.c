/*  =========================================================================
    zhive_dashboard - the dashboard's embedded files, looked up by path
    =========================================================================
*/
#include "zhive_dashboard.h"
#include <string.h>

const zhive_dashboard_asset_t *
zhive_dashboard_find (const char *path)
{
    for (size_t i = 0; path && i < zhive_dashboard_assets_count; i++) {
        if (strcmp (zhive_dashboard_assets [i].path, path) == 0)
            return &zhive_dashboard_assets [i];
    }
    return NULL;
}
