import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import { FormError, FormField, Notice, SubmitButton } from "./form";

function Field({ error, hint }: { error?: string; hint?: boolean }) {
  const [value, setValue] = useState("");
  return (
    <form>
      <FormField
        id="f-email"
        label="Email"
        type="email"
        autoComplete="email"
        required
        value={value}
        onValueChange={setValue}
        error={error}
        aria-describedby={hint ? "f-email-hint" : undefined}
      />
      {hint && <small id="f-email-hint">We never share it.</small>}
      <output data-testid="value">{value}</output>
    </form>
  );
}

describe("FormField", () => {
  it("labels the input and passes the input's attributes through", async () => {
    render(<Field />);
    const input = screen.getByLabelText("Email");
    expect(input).toHaveAttribute("id", "f-email");
    expect(input).toHaveAttribute("type", "email");
    expect(input).toHaveAttribute("autocomplete", "email");
    expect(input).toBeRequired();
    expect(input).not.toHaveAttribute("aria-invalid");
    expect(input).not.toHaveAttribute("aria-describedby");

    await userEvent.setup().type(input, "a@b.c");
    expect(screen.getByTestId("value")).toHaveTextContent("a@b.c");
  });

  it("shows the error under the input, describes the input with it and marks it invalid", () => {
    render(<Field error="Enter a valid address." />);
    const input = screen.getByLabelText("Email");
    expect(input).toBeInvalid();
    expect(input).toHaveAttribute("aria-describedby", "f-email-error");
    expect(input).toHaveAccessibleDescription("Enter a valid address.");
    const message = screen.getByText("Enter a valid address.");
    expect(message).toHaveAttribute("id", "f-email-error");
    expect(message).toHaveClass("field-error");
    expect(message.previousElementSibling).toBe(input);
  });

  it("keeps the caller's description next to the error's", () => {
    const { rerender } = render(<Field hint />);
    const input = screen.getByLabelText("Email");
    expect(input).toHaveAccessibleDescription("We never share it.");

    rerender(<Field hint error="Enter a valid address." />);
    expect(input).toHaveAttribute("aria-describedby", "f-email-hint f-email-error");
    expect(input).toHaveAccessibleDescription("We never share it. Enter a valid address.");
  });
});

describe("FormError and Notice", () => {
  it("render an alert and a status line, and nothing when empty", () => {
    const { container, rerender } = render(
      <>
        <FormError>{null}</FormError>
        <Notice>{""}</Notice>
      </>,
    );
    expect(container).toBeEmptyDOMElement();

    rerender(
      <>
        <FormError>Wrong password.</FormError>
        <Notice>Saved.</Notice>
      </>,
    );
    expect(screen.getByRole("alert")).toHaveTextContent("Wrong password.");
    expect(screen.getByRole("alert")).toHaveClass("form-error");
    expect(screen.getByRole("status")).toHaveTextContent("Saved.");
    expect(screen.getByRole("status")).toHaveClass("notice");
  });
});

describe("SubmitButton", () => {
  it("is disabled and relabelled while busy, or disabled for its own reason", () => {
    const { rerender } = render(
      <SubmitButton busy={false} busyLabel="Saving…">
        Save
      </SubmitButton>,
    );
    const button = screen.getByRole("button", { name: "Save" });
    expect(button).toHaveAttribute("type", "submit");
    expect(button).toHaveClass("primary");
    expect(button).toBeEnabled();

    rerender(
      <SubmitButton busy busyLabel="Saving…">
        Save
      </SubmitButton>,
    );
    expect(screen.getByRole("button", { name: "Saving…" })).toBeDisabled();

    rerender(
      <SubmitButton busy={false} disabled className="danger">
        Save
      </SubmitButton>,
    );
    expect(screen.getByRole("button", { name: "Save" })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Save" })).toHaveClass("danger");

    rerender(<SubmitButton busy>Save</SubmitButton>);
    expect(screen.getByRole("button", { name: "Save" })).toBeDisabled();
  });
});
