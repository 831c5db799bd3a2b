// The spawn form's place switcher: choosing a place sets each field's bounds, choices (the environments offered
// there) and value from the place's data (its option's data-fields, from hpchub.spawn_form); the parser enforces
// them anyway.
(() => {
  const place = document.getElementById("place");
  place.addEventListener("change", () => {
    const fields = JSON.parse(place.selectedOptions[0].dataset.fields);
    for (const [name, field] of Object.entries(fields)) {
      const input = document.getElementById(name);
      if (!input) continue;
      if ("min" in field) { input.min = field.min; input.max = field.max; }
      if ("choices" in field) {
        input.replaceChildren(...field.choices.map(([value, label]) => new Option(label, value)));
      }
      input.value = field.value;
    }
  });
})();
