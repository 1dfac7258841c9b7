/*  =========================================================================
    zhive_cli - what every part of the zhive command line tool shares
    =========================================================================
*/
#include "zhive_cli.h"
#include <stdarg.h>
#include <stdio.h>

//  ---------------------------------------------------------------------
//  Print "zhive: MESSAGE" on stderr

void
zhive_cli_complain (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    zhive_cli_vcomplain (format, args);
    va_end (args);
}

//  ---------------------------------------------------------------------
//  Print "zhive: MESSAGE" on stderr, from a va_list

void
zhive_cli_vcomplain (const char *format, va_list args)
{
    fputs ("zhive: ", stderr);
    vfprintf (stderr, format, args);
    fputc ('\n', stderr);
}

//  ---------------------------------------------------------------------
//  A usage error: say what, point at --help, and return ZHIVE_CLI_USAGE

int
zhive_cli_usage_error (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fputs ("zhive: ", stderr);
    vfprintf (stderr, format, args);
    fputs ("\nTry 'zhive --help' for more information.\n", stderr);
    va_end (args);
    return ZHIVE_CLI_USAGE;
}
