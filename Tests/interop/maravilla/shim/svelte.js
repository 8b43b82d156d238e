// Just enough of `svelte` for the seed's Chat component script to run as a plain module in a page: `onMount` runs its
// callback once the module has run, `onDestroy` when the page goes away. (`$state` is defined by the page as `(v) => v`.)
export function onMount(callback) {
    setTimeout(callback, 0);
}

export function onDestroy(callback) {
    addEventListener("pagehide", callback);
}
