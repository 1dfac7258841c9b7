/*  =========================================================================
    zhive_dashboard - the dashboard's files (broker/dashboard/), embedded in
    the broker at build time

    cmake/zhive_embed.cmake writes the table below from the files CMake
    lists (ZHIVE_DASHBOARD_FILES): the page at "/", its script, style and
    icon beside it. They hold no data: the page reads /api/status.
    =========================================================================
*/
#ifndef ZHIVE_DASHBOARD_H_INCLUDED
#define ZHIVE_DASHBOARD_H_INCLUDED

#include <stddef.h>

#pragma GCC visibility push(hidden)

typedef struct {
    const char *path;             //  Where it is served ("/", "/dashboard.js")
    const char *content_type;     //  Its Content-Type
    const unsigned char *data;    //  Its bytes (a NUL follows, not counted)
    size_t size;                  //  How many
} zhive_dashboard_asset_t;

//  The table (generated)
extern const zhive_dashboard_asset_t zhive_dashboard_assets [];
extern const size_t zhive_dashboard_assets_count;

//  ---------------------------------------------------------------------
//  The file served at path, or NULL if none is.
const zhive_dashboard_asset_t *zhive_dashboard_find (const char *path);

#pragma GCC visibility pop

#endif
