/* curl_floor: the memory floor set by libcurl-gnutls and the libraries it loads. It only
 * initialises libcurl (as acmed must) and prints its own peak RSS in KiB; bench/once.sh
 * reports it beside acmed's, so that the share acmed itself adds is visible. */
#include <curl/curl.h>
#include <stdio.h>
#include <sys/resource.h>

int main(void)
{
    struct rusage ru;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    curl_global_cleanup();
    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return 1;
    printf("%ld\n", ru.ru_maxrss);
    return 0;
}
