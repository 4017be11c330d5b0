#ifndef PARLEY_CMONGOC_SHIM_H
#define PARLEY_CMONGOC_SHIM_H
#include <mongoc/mongoc.h>
#include <bson/bson.h>
#endif
