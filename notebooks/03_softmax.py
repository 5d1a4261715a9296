# %% [markdown]
# # Softmax: from scores to weights
#
# Inline maths $p_i = e^{z_i} / \sum_j e^{z_j}$ and display:
#
# $$\mathrm{softmax}(z)_i = \frac{e^{z_i/T}}{\sum_j e^{z_j/T}}$$

# %%
import anywidget
import ipywidgets as widgets
import traitlets


class Counter(anywidget.AnyWidget):
    _esm = """
    function render({ model, el }) {
      let b = document.createElement("button");
      b.textContent = `count is ${model.get("value")}`;
      b.dataset.testid = "counter";
      b.onclick = () => { model.set("value", model.get("value") + 1); model.save_changes(); };
      model.on("change:value", () => { b.textContent = `count is ${model.get("value")}`; });
      el.appendChild(b);
    }
    export default { render };
    """
    value = traitlets.Int(0).tag(sync=True)


Counter()

# %%
widgets.FloatSlider(description=r"$T$", min=0.1, max=5.0, value=1.0)
