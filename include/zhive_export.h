/*  =========================================================================
    zhive_export - what libzhive exports

    libzhive is built with hidden visibility: only the functions declared
    with ZHIVE_EXPORT in these public headers are in libzhive.so's dynamic
    symbol table (.ci/check-exports checks that the two lists match). Every
    public header includes this one.
    =========================================================================
*/
#ifndef ZHIVE_EXPORT_H_INCLUDED
#define ZHIVE_EXPORT_H_INCLUDED

//  In front of every public function declaration
#if (defined __GNUC__ && __GNUC__ >= 4) || defined __clang__
#define ZHIVE_EXPORT __attribute__ ((visibility ("default")))
#else
#define ZHIVE_EXPORT
#endif

#endif
